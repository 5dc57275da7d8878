"""Writes an image folder from Debian's Fashion-MNIST: OUT/train/<class>/*.png and OUT/test/<class>/*.png,
the first N_TRAIN training and N_TEST test images, as RGB PNGs (what a user's own photos would be).

usage: /usr/bin/python3 make_image_folder.py OUT N_TRAIN N_TEST [FASHION_MNIST_DIR]
"""
import gzip
import os
import sys

import numpy as np
from PIL import Image

CLASSES = ['tshirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot']


def read(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    out, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    root = sys.argv[4] if len(sys.argv) > 4 else os.environ.get('LEGODNN_FASHION_MNIST') or '/usr/share/datasets/fashion-mnist'
    for split, prefix, n in (('train', 'train', n_train), ('test', 't10k', n_test)):
        images = read(os.path.join(root, prefix + '-images-idx3-ubyte.gz'), 16).reshape(-1, 28, 28)
        labels = read(os.path.join(root, prefix + '-labels-idx1-ubyte.gz'), 8)
        for c in CLASSES:
            os.makedirs(os.path.join(out, split, c), exist_ok=True)
        for i in range(min(n, len(labels))):
            Image.fromarray(images[i]).convert('RGB').save(os.path.join(out, split, CLASSES[labels[i]], f'{i:05d}.png'))
    print(f'{out}: {n_train} training and {n_test} test images in {len(CLASSES)} class folders')


if __name__ == '__main__':
    main()
