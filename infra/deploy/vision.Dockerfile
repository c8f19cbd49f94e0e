# The vision skill as a Lambda container image (serverless.yml: functions.vision.image).
# Build from the repository root:
#   docker build -f infra/deploy/vision.Dockerfile -t lambdesk-vision .
# Two stages: the first trains the shared default model (a ResNet-18 on scikit-learn's digits,
# packaged data, nothing downloaded) with torch and exports it to ONNX; the function itself runs
# tenants' models and that default on ONNX Runtime + numpy + Pillow, without torch: a small image
# and a cold start well under a second.

FROM public.ecr.aws/lambda/python:3.12 AS train
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 OMP_WAIT_POLICY=PASSIVE
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install numpy==2.4.6 scikit-learn==1.9.1 onnx==1.23.2 onnxruntime==1.32.0 \
      Pillow==13.0.0 pydantic==2.14.4 tqdm==4.70.1
COPY core/ /build/core/
COPY skills/__init__.py /build/skills/
COPY skills/vision/ /build/skills/vision/
COPY training/__init__.py training/progress.py training/resnet.py training/vision.py \
     training/vision_data.py /build/training/
RUN cd /build && python -c "from pathlib import Path; from training.vision import \
build_default_model; build_default_model(Path('/opt/models/vision-default'))"

FROM public.ecr.aws/lambda/python:3.12
ENV OMP_WAIT_POLICY=PASSIVE PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LAMBDESK_VISION_DEFAULT_MODEL_DIR=/opt/models/vision-default
RUN pip install -r /dev/stdin <<'REQS'
onnxruntime==1.32.0
numpy==2.4.6
Pillow==13.0.0
pydantic==2.14.4
aws-lambda-powertools==3.37.0
REQS
COPY --from=train /opt/models/ /opt/models/

COPY core/ ${LAMBDA_TASK_ROOT}/core/
COPY infra/ ${LAMBDA_TASK_ROOT}/infra/
COPY training/__init__.py ${LAMBDA_TASK_ROOT}/training/__init__.py
COPY training/workflows/ ${LAMBDA_TASK_ROOT}/training/workflows/
COPY skills/__init__.py ${LAMBDA_TASK_ROOT}/skills/
COPY skills/vision/ ${LAMBDA_TASK_ROOT}/skills/vision/
# Compile once at build time: cold starts then skip bytecode compilation.
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["skills.vision.handler.handler"]
