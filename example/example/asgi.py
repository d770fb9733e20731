import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
application = get_asgi_application()

if os.environ.get("EXAMPLE_LOADED_FILE"):  # tests count the processes that loaded the app: one line each
    with open(os.environ["EXAMPLE_LOADED_FILE"], "a") as loaded:
        loaded.write(f"{os.getpid()}\n")
