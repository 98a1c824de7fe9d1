// The login page: exchanges a token for a session cookie, then opens the dashboard.
document.getElementById('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = document.getElementById('login-error');
  err.hidden = true;
  const token = document.getElementById('token').value.trim();
  try {
    const res = await fetch('/api/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
      credentials: 'same-origin',
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      err.textContent = res.status === 401 ? 'That token is not valid.' : (body.error && body.error.message) || `Login failed (${res.status}).`;
      err.hidden = false;
      return;
    }
    location.href = '/#/home';
  } catch (x) {
    err.textContent = 'The server cannot be reached.';
    err.hidden = false;
  }
});
