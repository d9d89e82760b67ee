"""LightningModules that wire the parts into a training method."""

from audiofsl.methods.base import FewShotMethod
from audiofsl.methods.contrastive import ContrastiveMethod
from audiofsl.methods.matching import MatchingNet, MatchingScorer
from audiofsl.methods.protonet import ProtoNet
from audiofsl.methods.relationnet import RelationNet, RelationScorer
from audiofsl.methods.supervised import Supervised
from audiofsl.methods.view_attention import ViewAttentionProtoNet

__all__ = [
    "ContrastiveMethod",
    "FewShotMethod",
    "MatchingNet",
    "MatchingScorer",
    "ProtoNet",
    "RelationNet",
    "RelationScorer",
    "Supervised",
    "ViewAttentionProtoNet",
]
