from django.urls import path, re_path

from example import views

urlpatterns = [
    path("", views.index),
    path("healthz", views.healthz),
    path("readyz", views.readyz),
    path("whoami", views.whoami),
    path("gc-frozen", views.frozen),
    re_path(r"^slow/(?P<seconds>[0-9.]+)$", views.slow),
    path("boom", views.boom),
    path("inflight", views.inflight),
    path("db", views.db),
]
