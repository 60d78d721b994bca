FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --create-home --uid 1000 portal
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs no secrets; the build-time key is thrown away with the layer.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /app/var /data/private && chown -R portal /app/var /data

USER portal
EXPOSE 8000
# One request per process (sync workers), 4 processes per core (WEB_CONCURRENCY, read by
# gunicorn): a request waiting on PostgreSQL then holds up no other, which keeps the
# webhook's latency tail short (bench/README.md, "Webhook ingest").
ENV WEB_CONCURRENCY=8
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
