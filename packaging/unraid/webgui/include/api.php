<?php
/* towerd webGUI: the settings page's way to the running agent's API. The
 * browser calls this (behind the webGUI's own login); it adds the agent's
 * token, which therefore never reaches the browser, and allows only the
 * collector requests the page makes, checked before they are forwarded:
 *   GET  ?do=list
 *   POST do=enable|disable&name=NAME
 *   POST do=interval&name=NAME&seconds=N      (5..86400)
 * Answers are the agent's JSON, or {"success":false,"message":…}. */
require_once __DIR__.'/settings.php';
header('Content-Type: application/json');

function towerd_fail($code, $msg) {
  http_response_code($code);
  echo json_encode(['success' => false, 'message' => $msg]);
  exit;
}

$do = $_REQUEST['do'] ?? '';
$name = $_POST['name'] ?? '';
if ($do !== 'list' && !preg_match('/^[a-z0-9_-]{1,64}$/', $name)) towerd_fail(400, 'bad collector name');
switch ($do) {
case 'list':
  [$method, $path, $body] = ['GET', '/api/v1/collectors/status', null];
  break;
case 'enable':
case 'disable':
  if ($_SERVER['REQUEST_METHOD'] !== 'POST') towerd_fail(405, 'POST only');
  [$method, $path, $body] = ['POST', "/api/v1/collectors/$name/$do", null];
  break;
case 'interval':
  if ($_SERVER['REQUEST_METHOD'] !== 'POST') towerd_fail(405, 'POST only');
  $n = $_POST['seconds'] ?? '';
  if (!preg_match('/^[0-9]{1,5}$/', $n) || (int)$n < 5 || (int)$n > 86400) towerd_fail(400, 'interval must be 5 to 86400 seconds');
  [$method, $path, $body] = ['PATCH', "/api/v1/collectors/$name/interval", json_encode(['interval' => (int)$n])];
  break;
default:
  towerd_fail(400, 'unknown request');
}

$s = towerd_settings();
$headers = "Content-Type: application/json\r\n";
if ($s['TOKEN'] !== '') $headers .= "Authorization: Bearer ".$s['TOKEN']."\r\n";
$ctx = stream_context_create(['http' => [
  'method' => $method, 'header' => $headers, 'content' => $body ?? '',
  'timeout' => 10, 'ignore_errors' => true,
]]);
$answer = @file_get_contents(towerd_base($s).$path, false, $ctx);
if ($answer === false) towerd_fail(503, 'towerd is not answering on port '.$s['PORT']);
$status = 502;
foreach ($http_response_header ?? [] as $h) {
  if (preg_match('#^HTTP/\S+ (\d{3})#', $h, $m)) $status = (int)$m[1];
}
http_response_code($status);
echo $answer;
