"""Seed data: the products the inventory API also knows (same ids 1-4 on a fresh database) and
the demo user ``alice`` (password ``wonderland``)."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations

PRODUCTS = [  # in id order
    ("Sencha green tea", Decimal("7.50"), 40),
    ("Assam black tea", Decimal("6.00"), 12),
    ("Stoneware cup", Decimal("14.00"), 0),
    ("Cast iron teapot", Decimal("39.00"), 3),
]
USER = "alice"


def seed(apps, schema_editor):
    Product = apps.get_model("shop", "Product")
    for name, price, stock in PRODUCTS:
        Product.objects.get_or_create(name=name, defaults={"price": price, "stock": stock})
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    User.objects.get_or_create(username=USER, defaults={
        "password": make_password("wonderland"), "first_name": "Alice", "last_name": "Liddell",
        "email": "alice@example.com",
    })


def unseed(apps, schema_editor):
    apps.get_model("shop", "Product").objects.filter(name__in=[p[0] for p in PRODUCTS]).delete()
    apps.get_model(*settings.AUTH_USER_MODEL.split(".")).objects.filter(username=USER).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("shop", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(seed, unseed)]
