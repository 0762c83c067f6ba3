from . import demo, models, report, wizards

from .snapshot import period, revenue, run  # isort: skip
from .hooks import post_init_hook
