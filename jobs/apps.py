from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Runners and compensation actions register themselves when imported: every app's
        # `runners` module (e.g. clusters/runners.py, jobs/runners.py) is imported at startup, in the
        # web process (to know which kinds lock their site) and in workers (to run them).
        autodiscover_modules("runners")
