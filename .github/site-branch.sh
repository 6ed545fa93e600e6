#!/usr/bin/env bash
# The published site is kept on a branch (gh-pages): the one durable copy of every earlier report. A cache
# is evicted after 7 days unused, the weekly gap; a branch is not. The scheduled job restores the site from
# it before a run and saves the site back after publishing, as one new commit on top.
#
#   .github/site-branch.sh restore output/site    earlier reports into output/site (nothing on the first run)
#   .github/site-branch.sh save output/site       output/site as the branch's next commit, pushed
#
# SITE_BRANCH (default gh-pages) and SITE_REMOTE (default origin) choose where.
set -euo pipefail

action=${1:?usage: site-branch.sh restore|save SITE_DIR}
site=${2:?usage: site-branch.sh restore|save SITE_DIR}
branch=${SITE_BRANCH:-gh-pages}
remote=${SITE_REMOTE:-origin}
tracking="refs/remotes/$remote/$branch"

restore() {
    # ls-remote exits 2 when the branch does not exist: the first run, nothing to restore. Any other failure
    # stops the job: saving a site that was not restored would publish it without its history.
    local status=0
    git ls-remote --exit-code --heads "$remote" "$branch" >/dev/null || status=$?
    if [ "$status" -eq 2 ]; then
        echo "No $branch branch on $remote yet: this run publishes the first report."
        return 0
    fi
    [ "$status" -eq 0 ] || return "$status"
    git fetch --quiet --depth 1 "$remote" "+refs/heads/$branch:$tracking"
    mkdir -p "$site"
    git archive "$tracking" | tar -x -C "$site"
    echo "Restored $(find "$site" -mindepth 1 -maxdepth 1 -type d | wc -l) earlier reports from $branch."
}

save() {
    local index parent tree commit
    index=$(mktemp -u)
    # a separate index: the site's files become the commit's tree, the checkout's own index is untouched
    GIT_INDEX_FILE=$index git --work-tree="$site" add --all -- .
    tree=$(GIT_INDEX_FILE=$index git write-tree)
    rm -f "$index"
    parent=$(git rev-parse --quiet --verify "$tracking^{commit}" || true)
    if [ -n "$parent" ] && [ "$(git rev-parse "$parent^{tree}")" = "$tree" ]; then
        echo "The site on $branch is already up to date."
        return 0
    fi
    commit=$(GIT_AUTHOR_NAME=liqreport GIT_AUTHOR_EMAIL=liqreport@users.noreply.github.com \
        GIT_COMMITTER_NAME=liqreport GIT_COMMITTER_EMAIL=liqreport@users.noreply.github.com \
        git commit-tree "$tree" ${parent:+-p "$parent"} -m "Site: $(date -u +%Y-%m-%dT%H:%MZ)")
    # not forced: if the branch moved since the restore, the push fails rather than dropping those reports
    git push --quiet "$remote" "$commit:refs/heads/$branch"
    git update-ref "$tracking" "$commit"
    echo "Saved the site to $branch ($commit)."
}

case "$action" in
    restore) restore ;;
    save) save ;;
    *) echo "site-branch.sh: unknown action $action (restore or save)" >&2; exit 2 ;;
esac
