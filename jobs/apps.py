from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The job framework. It runs kinds of work it does not know: each app registers its runners
    (jobs.runner.register) and undo actions (jobs.compensation.compensation) in its own ready()."""

    name = "jobs"
    verbose_name = "Jobs"
