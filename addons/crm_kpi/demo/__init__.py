from . import history
