# The panel's image for docker-compose.dev.yml (machines that can pull python:3.11-slim).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock /app/
RUN pip install --no-cache-dir --require-hashes -r /app/requirements.lock
COPY panel /app/panel
COPY clusters /app/clusters
COPY jobs /app/jobs
RUN pip install --no-cache-dir --no-deps -e /app
COPY . /app
EXPOSE 8000
CMD ["uvicorn", "panel.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
