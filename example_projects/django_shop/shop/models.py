from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def low_on_stock(self) -> bool:
        return 0 < self.stock < LOW_STOCK


LOW_STOCK = 5  # fewer left than this: the product page logs a warning
