# The video function as a Lambda container image (serverless.yml: functions.video.image).
# Build from the repository root:
#   docker build -f infra/deploy/video.Dockerfile -t lambdesk-video .
# It runs video moderation jobs and the video skill (PyAV decodes mp4, webm and mov; frames go
# out as JPEG to the vision function through the Lambda invoker). No model library: the tenant's
# image model is served by the vision function alone.
FROM public.ecr.aws/lambda/python:3.12

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 LAMBDESK_LOCAL_SKILLS=video
RUN pip install -r /dev/stdin <<'REQS'
av==18.1.0
numpy==2.4.6
Pillow==13.0.0
httpx==0.28.1
pydantic==2.14.4
aws-lambda-powertools==3.37.0
REQS

COPY core/ ${LAMBDA_TASK_ROOT}/core/
COPY infra/ ${LAMBDA_TASK_ROOT}/infra/
COPY skills/__init__.py ${LAMBDA_TASK_ROOT}/skills/
COPY skills/video/ ${LAMBDA_TASK_ROOT}/skills/video/
COPY training/__init__.py ${LAMBDA_TASK_ROOT}/training/__init__.py
COPY training/workflows/ ${LAMBDA_TASK_ROOT}/training/workflows/
# Compile once at build time: cold starts then skip bytecode compilation.
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["skills.video.handler.handler"]
