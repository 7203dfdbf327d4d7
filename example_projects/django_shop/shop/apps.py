from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Tea shop"

    def ready(self) -> None:
        from shop import signals  # noqa: F401  (connects the login receivers)
