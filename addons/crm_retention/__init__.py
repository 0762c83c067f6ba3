from . import demo, models, wizards
from .hooks import post_init_hook
