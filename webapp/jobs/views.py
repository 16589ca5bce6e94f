from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

import inference.engines as engines
from webapp.accounts import guests
from webapp.accounts.models import Role
from webapp.accounts.permissions import HasRole, IsStaffMember
from webapp.jobs import services, unserved
from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.serializers import JobCreateSerializer, JobSerializer
from webapp.pagination import paginate
from webapp.refusal import Refusal

# Researchers run jobs for studies and datasets; experts run them while annotating; guests of
# "Try it online" run the try pages' engines within their limits (webapp/accounts/guests.py).
CanRunJobs = HasRole.of(Role.RESEARCHER, Role.EXPERT, Role.GUEST)


def jobs_of(user):
    return Job.objects.filter(owner=user)


class JobListView(APIView):
    permission_classes = [CanRunJobs]

    @extend_schema(responses=JobSerializer(many=True),
                   parameters=[OpenApiParameter("status", enum=Job.Status.values, required=False)])
    def get(self, request):
        services.fail_unserved_jobs()
        queryset = jobs_of(request.user)
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in Job.Status.values:
                raise Refusal(f"status must be one of {', '.join(Job.Status.values)}")
            queryset = queryset.filter(status=wanted)
        return paginate(request, self, queryset, JobSerializer)

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def post(self, request):
        body = JobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        guests.check_run(request.user, body.validated_data.get("engine", ""))
        job = services.create_job(owner=request.user, **body.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailView(APIView):
    permission_classes = [CanRunJobs]

    @extend_schema(responses=JobSerializer)
    def get(self, request, pk: int):
        services.fail_unserved_jobs()
        return Response(JobSerializer(get_object_or_404(jobs_of(request.user), pk=pk)).data)


class JobCancelView(APIView):
    permission_classes = [CanRunJobs]

    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request, pk: int):
        job = get_object_or_404(jobs_of(request.user), pk=pk)
        return Response(JobSerializer(services.cancel_job(job)).data)


class EngineListView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses=inline_serializer("Engine", {"name": serializers.CharField()}, many=True))
    def get(self, request):
        return Response([engines.spec(name).describe() for name in engines.names()])


class HealthView(APIView):
    """Public by design (load balancers probe it); it reveals no user data."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=inline_serializer("Health", {"status": serializers.CharField(),
                                                         "workers": serializers.ListField(),
                                                         "queues": serializers.ListField()}))
    def get(self, request):
        services.fail_unserved_jobs()
        recent = timezone.now() - timedelta(seconds=unserved.LIVE_SECONDS)
        workers = [{"name": w.name, "device": w.device, "queues": w.queues, "engines": w.engines,
                    "loaded": w.loaded, "last_seen": w.last_seen}
                   for w in WorkerStatus.objects.filter(last_seen__gte=recent)]
        return Response({"status": "ok", "workers": workers, "queues": unserved.queue_report()})
