"""The portal's addresses. Everything but the register, the catalogue and the login page
needs a signed-in user with a verified second factor (see ``middleware``)."""

from __future__ import annotations

from pathlib import Path

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.urls import path, re_path
from django.views.static import serve as serve_static

from fjdp.portal.views import audit, auth, dashboard, outputs, projects, public

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("register/", public.register, name="register"),
    path("catalogue/", public.catalogue, name="catalogue"),
    path("catalogue/<str:name>/", public.dataset, name="dataset"),
    # Outside the request's transaction: the password check is slow on purpose and must not
    # hold SQLite's write lock; each write of a login (django-axes' record of a failure,
    # the session, the audit event) commits in a transaction of its own.
    path(
        "accounts/login/",
        transaction.non_atomic_requests(
            auth_views.LoginView.as_view(template_name="portal/login.html")
        ),
        name="login",
    ),
    path("accounts/otp/", auth.otp, name="otp"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", dashboard.projects, name="projects"),
    path("projects/new/", projects.project_new, name="project_new"),
    path("projects/<str:pid>/", projects.project_detail, name="project"),
    path("projects/<str:pid>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<str:pid>/submit/", projects.project_submit, name="project_submit"),
    path("projects/<str:pid>/panel/", projects.project_panel, name="project_panel"),
    path(
        "projects/<str:pid>/custodian/<str:dataset>/",
        projects.project_custodian,
        name="project_custodian",
    ),
    path("projects/<str:pid>/provision/", projects.project_provision, name="project_provision"),
    path("projects/<str:pid>/amend/", projects.project_amend, name="project_amend"),
    path("projects/<str:pid>/withdraw/", projects.project_withdraw, name="project_withdraw"),
    path("projects/<str:pid>/close/", projects.project_close, name="project_close"),
    path("projects/<str:pid>/outputs/new/", outputs.output_new, name="output_new"),
    path("outputs/", outputs.outputs, name="outputs"),
    path("outputs/<str:rid>/", outputs.output_request, name="output_request"),
    path("outputs/<str:rid>/submit/", outputs.output_submit, name="output_submit"),
    path("outputs/<str:rid>/withdraw/", outputs.output_withdraw, name="output_withdraw"),
    path("outputs/<str:rid>/take/", outputs.output_take, name="output_take"),
    path("outputs/<str:rid>/review/", outputs.output_review, name="output_review"),
    path("outputs/<str:rid>/revise/", outputs.output_revise, name="output_revise"),
    path("outputs/<str:rid>/files/<int:fid>/", outputs.output_file, name="output_file"),
    path("outputs/<str:rid>/release/", outputs.output_release, name="output_release"),
    path("workspaces/", dashboard.workspaces, name="workspaces"),
    path("audit/", audit.audit, name="audit"),
    path("audit/report/", audit.audit_report, name="audit_report"),
    path("audit/report/report.html", audit.audit_report_html, name="audit_report_html"),
    path("audit/report/<slug:key>.csv", audit.audit_report_csv, name="audit_report_csv"),
    path("admin/", admin.site.urls),
    # The portal's own stylesheet, served by Django so `fjdp portal serve` needs nothing
    # else; a deployment puts a web server (and `collectstatic`) in front instead.
    re_path(
        r"^static/portal/(?P<path>[\w.-]+)$",
        serve_static,
        {"document_root": str(Path(__file__).parent / "static" / "portal")},
    ),
]
