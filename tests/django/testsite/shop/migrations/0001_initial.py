from django.contrib.auth.hashers import make_password
from django.db import migrations, models


def seed(apps, schema_editor):
    apps.get_model("shop", "Item").objects.create(name="teapot")
    apps.get_model("auth", "User").objects.create(username="alice", password=make_password("wonderland"))


class Migration(migrations.Migration):
    initial = True
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]
    operations = [
        migrations.CreateModel("Item", [("id", models.AutoField(primary_key=True)), ("name", models.CharField(max_length=100))]),
        migrations.RunPython(seed),
    ]
