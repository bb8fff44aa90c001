# DSTRTD on a CUDA GPU box: `docker build -t dstrtd . && docker run --gpus all -v dstrtd-cache:/cache -v $PWD/studio:/studio dstrtd studio --studio /studio`
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DSTRTD_CACHE=/cache \
    SDL_VIDEODRIVER=dummy

# DejaVu Sans for the text of posters, posts and the gallery (else they fall back to a plainer built-in font).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 dstrtd \
 && mkdir -p /cache /studio && chown dstrtd:dstrtd /cache /studio

WORKDIR /opt/dstrtd
COPY pyproject.toml README.md ./
COPY generator ./generator
COPY curation ./curation
COPY training ./training
COPY installation ./installation
# The base image already has a CUDA torch; keep it rather than pulling the pinned CPU/CUDA wheel again.
RUN pip install --no-deps . \
 && pip install "open-clip-torch>=3.3,<3.4" "kornia>=0.9,<0.10" "taming-transformers-rom1504==0.0.6" einops \
      safetensors pygame-ce "qrcode[pil]" instaloader fastapi uvicorn numpy pillow matplotlib optuna tqdm

USER dstrtd
VOLUME ["/cache", "/studio"]
EXPOSE 8000
ENTRYPOINT ["dstrtd"]
CMD ["--help"]
