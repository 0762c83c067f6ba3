from . import campaign
