"""Homotopy continuation in the weight scale: fixed points that no Newton start reaches.

Scale every weight of a network by t and keep the biases: ``F_t(x) = phi(t W_L ... phi(t W_1 x +
b_1) ... + b_L)``. At t = 0 the map is constant; at t = 1 it is the network. In the
pre-activations of the layers, ``z_l = t W_l phi(z_{l-1}) + b_l`` (l = 1..L, cyclic: layer 1 reads
z_L, and x = phi(z_L)), the solutions (z, t) form curves; where the Jacobian in z is regular they
are smooth, and for bounded t they stay in the bounded set ``|z_l| <= t |W_l| 1 + |b_l|``. Below
``t_0 = (1/2) prod_l (sup|phi'| ||W_l||_2)^(-1/L)`` the map F_t is a contraction, with exactly one
fixed point. Hence (the degree argument behind :func:`~fpkit.engine.fixed_point_index`):

* the **main branch**, the curve through the unique solution at t_0, cannot end and cannot come
  back below t_0: it reaches t = 1, at a fixed point;
* from any fixed point, the curve followed in the direction of *decreasing* t stays in
  (t_0, 1) until it either reaches t_0 (the point was the main branch's first crossing of t = 1)
  or comes back to t = 1 at **another fixed point, of opposite index** (along a curve the sign
  of the bordered Jacobian is constant, and at t = 1 it is ``sign det(G_z) * sign(dt/ds)``).

So one arc per known fixed point, plus the main branch, closes a list under this pairing, and a
closed list has index sum exactly 1. Two known partners (or the main branch and its point) put
two arcs on one curve, headed towards each other; where they meet, the curve is closed and both
stop (``meet``), so a long curve costs half its steps.
:func:`~fpkit.engine.continuation_search` follows these arcs for a batch
of networks at once, by pseudo-arclength predictor-corrector continuation (Allgower & Georg 1990,
ch. 2 and 6; Keller 1977) in the unknowns

* ``v_l = asinh(z_l)``, with the layer equations written ``v_l = asinh(t W_l phi(sinh v_{l-1}) +
  b_l)``: a unit's linear range (``|z|`` of order 1) keeps its size while its saturated range
  (``|z|`` up to the row sums of ``|W|``, 1e6 and more for heavy-tailed weights) shrinks to a
  logarithm;
* ``lambda = log t``: a weight w acts at t of order ``1/|w|``, so with heavy-tailed weights the
  curves' turns are spread over decades of t. In t they crowd near t = 0, within ``1/|w|`` of
  each other and of the main branch, and a corrector jumps between them.

A pure numerical method, in three modules: :mod:`~fpkit.engine.continuation.system` (the layer
equations and their bordered solve), :mod:`~fpkit.engine.continuation.arcs` (arc following, step
control and meeting detection), :mod:`~fpkit.engine.continuation.spectrum` (the index and eigenvalues
from the layers); :mod:`~fpkit.engine.continuation.search` puts them together. The census uses it
through :func:`~fpkit.engine.continuation_search` (its stage is :mod:`fpkit.engine.census.pairing`).

Step control (Allgower & Georg, sec. 6.1): see :mod:`~fpkit.engine.continuation.arcs`.

Linear algebra: every Newton and tangent step solves the bordered system of the cyclic,
block-bidiagonal layer equations. :func:`~fpkit.engine.continuation.system.bordered_solve`
eliminates the layers one after the other with Householder QR of (2N + 1)-row blocks: an exact,
backward-stable QR factorisation of the whole (LN + 1)-square matrix that costs O(L N^3) instead of O((LN)^3) and, unlike closing the cycle
through the layer products (single shooting), never forms products of L Jacobians.

References
----------
E. L. Allgower and K. Georg, *Numerical Continuation Methods: An Introduction*, Springer 1990.
P. Deuflhard, *Newton Methods for Nonlinear Problems: Affine Invariance and Adaptive Algorithms*,
Springer 2004.
H. B. Keller, Numerical solution of bifurcation and nonlinear eigenvalue problems, in
*Applications of Bifurcation Theory*, Academic Press 1977.
"""

from .arcs import CONTINUATION_STATUS
from .search import ContinuationResult, continuation_search
from .spectrum import layer_jacobian_eigenvalues

__all__ = ["CONTINUATION_STATUS", "ContinuationResult", "continuation_search", "layer_jacobian_eigenvalues"]
