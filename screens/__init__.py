"""Screens of the incident console (Textual). The core in ``console/`` never imports these."""
