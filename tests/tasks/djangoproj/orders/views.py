from django.http import HttpResponse

from orders.tasks import ping, send_confirmation


def checkout(request, order_id: int):
    send_confirmation.delay(order_id)
    ping.delay()
    return HttpResponse("queued", status=202)
