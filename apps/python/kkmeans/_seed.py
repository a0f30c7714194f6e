"""The interface of the PyTorch snippet kkmeans descends from, for its users:

    km = kmeans_core(k, data_array, batch_size=800000, epochs=200)
    idx = km.run()        # labels of every row; km.cent: the centroids; km.k: how many are left

run() fits with the snippet's update (mode "seed": after every batch the centroids become the batch's
means, and centroids the batch did not reach are dropped), starting from k distinct random rows. With a
PyTorch tensor as data_array, idx and cent come back as tensors on its device.
"""
import numpy as np

from ._estimator import KMeans


class kmeans_core:  # noqa: N801 - the snippet's name
    def __init__(self, k, data_array, batch_size=8e5, epochs=200, all_cuda=True, *, metric="sqeuclidean",
                 random_state=0, precision="float", comm=None):
        self.k = int(k)
        self.data_array = data_array
        self.batch_size = int(batch_size)
        self.epochs = int(epochs)
        self.all_cuda = all_cuda  # kept for the snippet's callers; where the data lives decides
        self._km = KMeans(n_clusters=self.k, metric=metric, init="random", max_iter=self.epochs, mode="seed",
                          batch_size=self.batch_size, random_state=random_state, precision=precision, comm=comm)
        self.idx = None
        self.cent = None

    def run(self):
        data = self.data_array
        torch_input = type(data).__module__.split(".")[0] == "torch"
        if torch_input and not hasattr(data, "__cuda_array_interface__"):
            data = data.detach().cpu().numpy()  # a CPU tensor: its numpy view, no copy
        self._km.fit(data)
        self.idx, self.cent = self._km.labels_, self._km.cluster_centers_
        if torch_input:
            import torch

            device = self.data_array.device
            self.idx = torch.as_tensor(np.asarray(self.idx) if not hasattr(self.idx, "device") else self.idx,
                                       device=device).long()
            self.cent = torch.as_tensor(self.cent, device=device)
        self.k = int(self._km.cluster_centers_.shape[0])
        return self.idx
