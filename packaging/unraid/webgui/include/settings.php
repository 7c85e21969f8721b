<?php
/* towerd webGUI: helpers shared by the settings page and api.php.
 * TOWERD_PREFIX (unset on Unraid) puts every path under another root, as
 * for rc.towerd; the page test uses it. */
$towerd_prefix = getenv('TOWERD_PREFIX') ?: '';
$towerd_cfg = "$towerd_prefix/boot/config/plugins/towerd/towerd.cfg";

/* towerd_settings reads towerd.cfg (KEY=value or KEY="value" lines, #
 * comments) over the defaults, as text: it is shell for rc.towerd, and
 * parse_ini_file refuses its # comments. */
function towerd_settings() {
  global $towerd_cfg;
  $s = ['PORT' => '8043', 'BIND' => '', 'TOKEN' => '', 'ROOT' => '/', 'LOG_LEVEL' => 'info',
        'LOG_MAX_SIZE_MB' => '5', 'ARRAY_HOOKS' => 'no', 'ARGS' => ''];
  foreach (@file($towerd_cfg, FILE_IGNORE_NEW_LINES) ?: [] as $line) {
    if (preg_match('/^([A-Z_][A-Z0-9_]*)=(.*)$/', $line, $m)) {
      $v = $m[2];
      if (strlen($v) >= 2 && $v[0] === '"' && substr($v, -1) === '"') $v = substr($v, 1, -1);
      $s[$m[1]] = $v;
    }
  }
  return $s;
}

/* towerd_base is where the local agent answers. */
function towerd_base($s) {
  $host = $s['BIND'];
  if ($host === '' || $host === '0.0.0.0' || $host === '::') $host = '127.0.0.1';
  if (strpos($host, ':') !== false) $host = "[$host]";
  return "http://$host:".$s['PORT'];
}

/* towerd_pid returns the running agent's PID, or 0. */
function towerd_pid() {
  global $towerd_prefix;
  $pid = (int)@file_get_contents("$towerd_prefix/var/run/towerd.pid");
  return ($pid > 0 && is_dir("/proc/$pid")) ? $pid : 0;
}
