"""Scanning guest code into basic blocks and a control-flow graph (networkx), and finding
the sensitive-unprivileged instructions a monitor has to patch.

Entry points: :func:`scan_image` (a whole image), :func:`scan_program` (an image and its
relocated spaces, with their sites), :class:`Scanner` (incremental: ``scan``,
``invalidate``, ``rescan``), :func:`find_sites`, :func:`data_ranges`, :func:`to_dot`.
"""

from hybridvmm.scan.build import ProgramScan, Space, scan_image, scan_program
from hybridvmm.scan.cfg import ControlFlowGraph
from hybridvmm.scan.constprop import ConstantPropagationResolver, dataflow_facts
from hybridvmm.scan.dot import to_dot
from hybridvmm.scan.memory import CodeSource, FetchError, ImageMemory
from hybridvmm.scan.model import EDGE_KINDS, Block, Edge, IndirectBranch, Problem
from hybridvmm.scan.ranges import code_ranges, data_ranges
from hybridvmm.scan.resolvers import Resolution, ResolveContext, Resolver, block_paths, default_resolvers
from hybridvmm.scan.scanner import Scanner
from hybridvmm.scan.sites import Site, declared_classes, find_sites, is_site_class
from hybridvmm.scan.vectors import RootFinder, VectorStoreFinder, vector_roots, vector_slots

__all__ = [
    "EDGE_KINDS",
    "Block",
    "CodeSource",
    "ConstantPropagationResolver",
    "ControlFlowGraph",
    "Edge",
    "FetchError",
    "ImageMemory",
    "IndirectBranch",
    "Problem",
    "ProgramScan",
    "Resolution",
    "ResolveContext",
    "Resolver",
    "RootFinder",
    "Scanner",
    "Site",
    "Space",
    "VectorStoreFinder",
    "block_paths",
    "code_ranges",
    "data_ranges",
    "dataflow_facts",
    "declared_classes",
    "default_resolvers",
    "find_sites",
    "is_site_class",
    "scan_image",
    "scan_program",
    "to_dot",
    "vector_roots",
    "vector_slots",
]
