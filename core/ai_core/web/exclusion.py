"""The request layer's names for the exclusion rule, which lives next to the sampler.

The rule (``excluded_urls`` on the path, ``excluded_routes`` on route names, and the
context flag the sampler drops an excluded request's spans by) is
:mod:`ai_core.exclusion`: the sampler is core, and the core never imports the request
layer. Adapters use :func:`excluded_request` and the per-app :class:`Exclusion` from here or
from :mod:`ai_core.web`.
"""

from ai_core.exclusion import Exclusion, RouteResolver, excluded_request, is_excluded_context

__all__ = ["Exclusion", "RouteResolver", "excluded_request", "is_excluded_context"]
