"""nfpo: normalizing-flow policies and stabilized policy optimization for robot learning.

Importing it registers the ``nfpo/`` gymnasium tasks (``nfpo.registration``)."""

__version__ = "0.1.0"

from nfpo.registration import register_envs as _register_envs  # noqa: E402

_register_envs()
