from . import demo, models, report, wizards

from .snapshot import period, run  # isort: skip
from .hooks import post_init_hook
