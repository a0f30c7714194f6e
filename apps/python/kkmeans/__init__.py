"""kkmeans: k-means by batch on Kokkos (OpenMP, CUDA) and MPI, with exact labels.

    from kkmeans import KMeans
    km = KMeans(n_clusters=200).fit(X)          # a scikit-learn estimator
    km.cluster_centers_, km.labels_, km.inertia_

    from kkmeans import kmeans_core              # the PyTorch snippet's interface
    km = kmeans_core(200, X, batch_size=100000, epochs=50); km.run(); km.idx, km.cent

`kkmeans.device` names the backend this module was built for; `kkmeans.metrics` the built-in metrics.
"""
from ._kkmeans import __version__, device, metrics, Metric
from ._estimator import KMeans
from ._seed import kmeans_core

__all__ = ["KMeans", "kmeans_core", "Metric", "metrics", "device", "__version__"]
