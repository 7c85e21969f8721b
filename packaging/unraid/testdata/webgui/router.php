<?php
/* Stand-in of the Unraid webGUI for the settings page test; see README.md. */
$prefix = getenv('TOWERD_PREFIX') ?: '';
$docroot = $_SERVER['DOCUMENT_ROOT'];
$var = ['NAME' => 'Tower', 'csrf_token' => 'CSRF0123456789ABCDEF'];
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
  if (($_POST['csrf_token'] ?? '') !== $var['csrf_token']) {
    http_response_code(403);
    echo "missing or wrong csrf_token";
    return true;
  }
  unset($_POST['csrf_token']);
}

if ($path === '/Settings/towerd') {
  $page = file_get_contents("$docroot/plugins/towerd/towerd.page");
  $body = substr($page, strpos($page, "\n---\n") + 5);
  echo "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{$var['NAME']}/towerd</title></head><body>\n";
  eval('?>'.$body);
  echo "\n<iframe id=\"progressFrame\" name=\"progressFrame\" style=\"width:100%;height:10em\"></iframe>\n</body></html>\n";
  return true;
}

if ($path === '/update.php') {
  header('Content-Type: text/plain');
  if (isset($_POST['#file'])) {
    $file = $_POST['#file'];
    if ($file[0] !== '/') $file = "$prefix/boot/config/plugins/$file";
    $keys = is_file($file) ? (parse_ini_file($file, false, INI_SCANNER_RAW) ?: []) : [];
    foreach ($_POST as $k => $v) if ($k[0] !== '#') $keys[$k] = $v;
    $text = '';
    foreach ($keys as $k => $v) $text .= "$k=\"$v\"\n";
    @mkdir(dirname($file), 0755, true);
    file_put_contents($file, $text);
  }
  if (isset($_POST['#command'])) {
    $command = realpath($docroot.'/'.ltrim($_POST['#command'], '/'));
    if ($command === false || strpos($command, realpath($docroot)) !== 0) {
      echo "invalid #command\n";
      return true;
    }
    $args = $_POST['#arg'] ?? [];
    ksort($args);
    $command = escapeshellcmd($command).' '.implode(' ', array_map('escapeshellarg', $args));
    $proc = popen("$command 2>&1", 'r');
    while (!feof($proc)) echo fgets($proc);
    pclose($proc);
  }
  echo "\nDONE\n";
  return true;
}

return false; // the document root's files
