"""Pure command builders: every function returns an argv (``list[str]``) and touches nothing.

As Kamal's ``lib/kamal/commands``: builders only say *what* to run; ``console/transport``
runs it over SSH (joined with ``shlex.join`` on the far side) and the engine maps the
outcome to domain conditions. Every name that reaches an argv is validated first
(:mod:`console.validate`), so a bad value raises :class:`~console.validate.UnsafeValue`
before any command exists.
"""
