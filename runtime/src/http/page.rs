//! The status page: one self-contained HTML document (no outside scripts,
//! styles or fonts), drawn on the node from its [`Status`], that refreshes
//! itself every two seconds and says so when the node stops answering.
//!
//! Everything shown that came from outside (addresses, cluster and client
//! names) is escaped: a client's chosen name is not markup.

use crate::human::{duration_ms, local_time};
use crate::status::Status;
use std::fmt::Write;

/// `s` with the characters HTML gives meaning to escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\
h1{font-size:1.3em;margin:0 0 .2em}.sub{color:#666;margin-bottom:1em}\
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin-bottom:1em}\
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em .9em;min-width:9em}\
.card b{display:block;font-size:1.3em}.card span{display:block;color:#666;font-size:.85em}h2{font-size:1em;margin:.6em 0 .3em}\
table{border-collapse:collapse;background:#fff;margin-bottom:1em}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f0f0f0}\
.leader{color:#0a7d2c}.candidate{color:#b36b00}.follower{color:#245}\
.alive{color:#0a7d2c}.suspect{color:#b36b00}.dead,.left{color:#b00020}\
#stale{display:none;background:#b00020;color:#fff;padding:.4em .8em;border-radius:4px;margin-bottom:1em}\
code{font-size:.95em}";

/// Reloads the page's body every two seconds; if the node stops answering
/// the last picture stays, under a banner that says since when.
const SCRIPT: &str = "(function(){var since=null;function tick(){\
fetch(location.pathname,{cache:'no-store'}).then(function(r){if(!r.ok)throw r.status;return r.text()})\
.then(function(t){var d=new DOMParser().parseFromString(t,'text/html');var m=d.getElementById('main');\
if(m){document.getElementById('main').innerHTML=m.innerHTML;document.title=d.title}since=null;\
document.getElementById('stale').style.display='none'})\
.catch(function(){if(!since)since=new Date();var s=document.getElementById('stale');\
s.textContent='The node is not answering since '+since.toLocaleTimeString()+': what follows is its last status.';\
s.style.display='block'})}setInterval(tick,2000)})();";

/// The page for `s`.
pub fn render(s: &Status) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let leader = s
        .leader
        .map_or_else(|| "none".to_owned(), |l| format!("n{l}"));
    let title = format!("n{} {} · {}", s.id, s.role, escape(&s.cluster));
    let _ = write!(
        out,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{title}</title><style>{STYLE}</style>\
         <noscript><meta http-equiv=refresh content=5></noscript></head><body>\
         <div id=stale></div><div id=main>"
    );
    let _ = write!(
        out,
        "<h1>n{id} is <span id=role class={role}>{role}</span>{serving}</h1>\
         <div class=sub>cluster <b>{cluster}</b> · {election} · listening at <code>{addr}</code> · \
         up {up} (since {since})</div>",
        id = s.id,
        role = escape(&s.role),
        serving = if s.serving { " and serving" } else { "" },
        cluster = escape(&s.cluster),
        election = escape(&s.election),
        addr = escape(&s.addr),
        up = duration_ms(s.uptime_ms),
        since = local_time(s.started_at_ms),
    );
    cards(&mut out, s, &leader);
    members(&mut out, s);
    roles(&mut out, s);
    clients(&mut out, s);
    let _ = write!(
        out,
        "<div class=sub>Drawn {} · refreshes every 2 s · JSON at <a href=/status>/status</a>, \
         Prometheus at <a href=/metrics>/metrics</a></div></div><script>{SCRIPT}</script></body></html>",
        local_time(s.started_at_ms.saturating_add(s.uptime_ms))
    );
    out
}

fn cards(out: &mut String, s: &Status, leader: &str) {
    let lease = s
        .lease_left_ms
        .map_or_else(String::new, |ms| format!("<span>lease {ms} ms left</span>"));
    let kept = if s.log_start > 1 {
        format!("<span>kept from #{}</span>", s.log_start)
    } else {
        String::new()
    };
    let disk = &s.disk;
    let _ = write!(
        out,
        "<div class=cards>\
         <div class=card id=leader><span>leader</span><b>{leader}</b>{lease}</div>\
         <div class=card id=epoch><span>epoch</span><b>{epoch}</b><span>term {term}</span></div>\
         <div class=card id=log><span>log</span><b>{last}</b><span>{commit} committed</span>{kept}\
         <span>digest <code>{digest}</code></span></div>\
         <div class=card id=disk><span>disk ({durability})</span><b>{durable}</b>\
         <span>durable · {held} held{stalled}</span><span>sync mean {mean} µs, max {max} µs</span></div>\
         <div class=card id=client-count><span>clients</span><b>{clients}</b></div>\
         </div>",
        epoch = s.epoch,
        term = s.term,
        last = s.last_index,
        commit = s.commit_index,
        digest = escape(&s.commit_digest),
        durability = escape(&disk.durability),
        durable = disk.durable_index,
        held = disk.held_messages,
        stalled = if disk.stalled { " · STALLED" } else { "" },
        mean = disk.sync_mean_us,
        max = disk.sync_max_us,
        clients = s.client_count,
    );
    let ring: Vec<String> = s.ring.iter().map(|n| format!("n{n}")).collect();
    let _ = write!(
        out,
        "<div id=ring>ring order: <b>{}</b></div>",
        if ring.is_empty() {
            "(none)".to_owned()
        } else {
            ring.join(" → ")
        }
    );
}

fn members(out: &mut String, s: &Status) {
    out.push_str(
        "<h2>members</h2><table id=members><tr><th>member</th><th>address</th><th>state</th><th>last heard</th></tr>",
    );
    if s.members.is_empty() {
        out.push_str("<tr><td colspan=4>none heard of yet</td></tr>");
    }
    for m in &s.members {
        let state = escape(&m.state);
        let _ = write!(
            out,
            "<tr data-member={id}><td>n{id}</td><td><code>{addr}</code></td>\
             <td class={state}>{state}</td><td>{heard} ago</td></tr>",
            id = m.id,
            addr = escape(&m.addr),
            heard = duration_ms(m.last_heard_ms),
        );
    }
    out.push_str("</table>");
}

fn roles(out: &mut String, s: &Status) {
    out.push_str(
        "<h2>recent role changes</h2><table id=roles><tr><th>when</th><th>became</th><th>leader</th><th>epoch</th></tr>",
    );
    if s.recent_roles.is_empty() {
        out.push_str("<tr><td colspan=4>no role change since the start</td></tr>");
    }
    for r in s.recent_roles.iter().rev() {
        let role = escape(&r.role);
        let leader = r
            .leader
            .map_or_else(|| "none".to_owned(), |l| format!("n{l}"));
        let _ = write!(
            out,
            "<tr><td>{}</td><td class={role}>{role}</td><td>{leader}</td><td>{}</td></tr>",
            local_time(r.at_ms),
            r.epoch
        );
    }
    out.push_str("</table>");
}

fn clients(out: &mut String, s: &Status) {
    if s.client_count == 0 {
        out.push_str("<div id=clients>no chat client connected here</div>");
        return;
    }
    let names: Vec<String> = s.clients.iter().map(|c| escape(c)).collect();
    let more = s.client_count.saturating_sub(s.clients.len());
    let _ = write!(
        out,
        "<div id=clients>clients: {}{}</div>",
        if names.is_empty() {
            "(names not shown)".to_owned()
        } else {
            names.join(", ")
        },
        if more > 0 && !names.is_empty() {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_came_from_outside_is_not_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
