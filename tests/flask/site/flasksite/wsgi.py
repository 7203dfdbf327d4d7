"""Two apps from one factory in one process: the shop at ``/`` and an admin app at ``/admin``
with its own role name, no exclusions, no proxy trusted and a user_id callable that raises."""

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from flasksite import broken_user_reader, create_app

shop = create_app()
admin = create_app(
    "admin",
    APPLICATION_INSIGHTS_ROLE_NAME="back-office",
    APPLICATION_INSIGHTS_EXCLUDED_ROUTES=[],
    APPLICATION_INSIGHTS_EXCLUDED_URLS=[],
    APPLICATION_INSIGHTS_TRUSTED_PROXIES=0,
    APPLICATION_INSIGHTS_USER_ID=broken_user_reader,
)
application = DispatcherMiddleware(shop, {"/admin": admin})
