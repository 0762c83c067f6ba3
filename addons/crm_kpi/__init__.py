from . import demo, models, report, wizards

from .snapshot import day, period, run  # isort: skip
from .hooks import post_init_hook
