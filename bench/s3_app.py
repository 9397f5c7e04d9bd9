"""moto's S3 as a WSGI app, for the distributed benches' S3 server (``bench.distributed``).

moto's own ``ThreadedMotoServer`` runs on Werkzeug's development server, which closes the
connection after every response: each S3 request then paid a new TCP connection and a new
server thread, and the server shared the bench client's process and GIL. Served by
gunicorn's threaded worker in a process of its own, its connections are kept alive, as
MinIO's are. Objects live in that one process's memory, so it runs one worker process.
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
