"""What other apps may listen to, so that ``webapp.jobs`` never imports them.

``job_finished`` is sent once a job has reached ``succeeded``, ``failed`` or ``cancelled`` and that
write is committed; receivers get ``job`` (the ``Job`` as written) and read ``job.status``. A receiver
that raises is logged and does not affect the job or the other receivers.
"""

from django.dispatch import Signal

job_finished = Signal()
