"""The theory of random networks' Jacobians and fixed points, in layers.

Each module uses only the public names of the modules below it:

``quadrature``
    The one primitive: expectations over a Gaussian or a Cauchy variable.
``lengthmap``
    A configuration's layer scales, the length map q -> sigma_w^2 E[phi(sqrt(q) Z)^2] + sigma_b^2, its
    fixed point q*, chi_1, and the Cauchy scale map (the heavy-tailed analogue).
``free``
    Free probability for finite-variance weights: the spectral law of J J^T and the eigenvalue law of J.
``cavity``
    One Cauchy layer in the limit N -> infinity: the cavity equation on the Poisson weighted tree.
``kac_rice_sampling``, ``kac_rice``
    The exact Monte-Carlo Kac-Rice estimator of the mean numbers of fixed points (all, and stable): its
    sampling pieces (proposal, pilot, the last layer given its pre-activation), and the estimates.
``spectral_route``
    The Kac-Rice formula with the determinant from the free-probability eigenvalue law, and the complexity.

This package imports none of them itself: ``from fpkit.theory import free`` loads what it needs (the
quadrature sits below :mod:`fpkit.activations`, which the layers above import).
"""
