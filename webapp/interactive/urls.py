"""URLs (API under /api/, pages at the top level); filled in by this app's issue."""

urlpatterns: list = []
