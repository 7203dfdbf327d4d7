"""A user_id reader of the kind a project writes: ``USER_ID: "testsite.users.tenant_user"``."""


def tenant_user(request):
    user = getattr(request, "user", None)
    return "tenant-7/%s" % user.username if user is not None and user.is_authenticated else None
