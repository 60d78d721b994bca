from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "BVNK customers"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the deploy checks
