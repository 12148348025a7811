"""fleet-sim: a load generator that speaks exactly what osqueryd speaks (a pure wire client).

It imports nothing from fleet_core, fleet_adapters or fleet_http.
"""

from fleet_osquery.sim.agent import CheckIn, SimOptions, SimulatedHost
from fleet_osquery.sim.answers import AnswerRules
from fleet_osquery.sim.simulator import Simulator
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats
from fleet_osquery.sim.templates import TEMPLATES, Software, assign_templates, get_template

__all__ = [
    "TEMPLATES",
    "AnswerRules",
    "CheckIn",
    "Endpoint",
    "Outcome",
    "SimOptions",
    "SimulatedHost",
    "Simulator",
    "Software",
    "Stats",
    "assign_templates",
    "get_template",
]
