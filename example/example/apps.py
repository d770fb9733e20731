from django.apps import AppConfig


class ExampleConfig(AppConfig):
    name = "example"

    def ready(self) -> None:
        from example import checks  # noqa: F401  (registers the example's checks)
