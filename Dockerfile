# The control plane's image, one for every process of docker-compose.yml (web, workers,
# beat, release); each service gives its command.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files collected at build time, served by WhiteNoise from the web process.
ENV STATIC_ROOT=/app/staticfiles
RUN SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput --verbosity 0 \
 && useradd --create-home --uid 1000 switchyard \
 && mkdir -p /app/var \
 && chown switchyard /app/var

USER switchyard
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0"]
