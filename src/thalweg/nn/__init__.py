"""Neural-network building blocks: modules, layers, initializations, losses."""

from .module import Module
from .parameter import Parameter
