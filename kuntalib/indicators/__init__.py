"""Strategy follow-up: indicator files, status rules, traffic-light dashboard, PxWeb client."""

from kuntalib.indicators.chain import ImpactChain, ImpactChainError, load_impact_chain
from kuntalib.indicators.load import load_indicator_file
from kuntalib.indicators.model import Indicator, IndicatorFile, IndicatorFileError
from kuntalib.indicators.status import StatusRules, evaluate

__all__ = ["ImpactChain", "ImpactChainError", "load_impact_chain", "Indicator", "IndicatorFile", "IndicatorFileError", "load_indicator_file", "StatusRules", "evaluate"]
