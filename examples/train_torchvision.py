"""Trains a torchvision architecture from random initialization on an image folder for a short
run, as a user of PyTorch would, and saves it traced (TorchScript) for `legodnn import`.

usage: /usr/bin/python3 train_torchvision.py IMAGE_FOLDER ARCH SIZE EPOCHS OUT.pt
The normalization (per-channel mean and standard deviation of the training images) is what
`legodnn --data IMAGE_FOLDER` computes too (on its 90% training part, so within a rounding).
"""
import sys

import torch
import torchvision
from torchvision import transforms


def main():
    folder, arch, size, epochs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    plain = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    train = torchvision.datasets.ImageFolder(folder + '/train', plain)
    x = torch.stack([img for img, _ in train])
    mean, std = x.mean((0, 2, 3)), x.std((0, 2, 3))
    norm = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(), transforms.Normalize(mean, std)])
    train = torchvision.datasets.ImageFolder(folder + '/train', norm)
    test = torchvision.datasets.ImageFolder(folder + '/test', norm)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=len(train.classes))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(images), labels).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(images).argmax(1) == labels).sum().item()
                      for images, labels in torch.utils.data.DataLoader(test, batch_size=256))
    print(f'{arch}: {epochs} epochs on {len(train)} images, test accuracy {100 * correct / len(test):.2f}% '
          f'on {len(test)} images')
    torch.jit.trace(model, torch.randn(1, 3, size, size)).save(out)


if __name__ == '__main__':
    main()
