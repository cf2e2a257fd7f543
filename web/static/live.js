// Copyright 2026 The iknn_ros Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

/**
 * The page's live link to the ROS graph: the web node's WebSocket (joint states and the IK
 * node's diagnostics in, goals out), shared by the 3D view (view3d.js) and the 2D view
 * (app.js). It reconnects when the connection is lost, and when the web node refuses the
 * page it asks why (a browser cannot read why a WebSocket handshake failed).
 *
 * Beyond loopback the web node wants its access token: the address it prints carries it
 * (?token=...), and the link passes it on with the socket and with every goal.
 */

// Close codes for a message the web node would not take (RFC 6455, 7.4.1).
const REFUSED_MESSAGE = [1003, 1007, 1008, 1009];
export const TOKEN = new URLSearchParams(location.search).get('token');
const TOKEN_QUERY = TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : '';

export function refusedMessage(reason) {
  return `Live: the web node refused this page: ${reason}. No goal was sent.`;
}

/** Why the web node refuses this page's socket, or null (not refused, or unreachable). */
async function refusalReason() {
  try {
    const response = await fetch(`access${TOKEN_QUERY}`, {cache: 'no-store'});
    if (response.status === 403) {
      return (await response.json()).reason || 'access refused';
    }
  } catch (error) {
    // Unreachable: a lost connection, reported as such.
  }
  return null;
}

/**
 * One live connection. `handlers`: onMessage(msg) for state and diagnostics, say(text)
 * and fail(text) for the page's message line, hasErrors() (a standing error is kept on
 * connect), active() (whether the page still wants live mode).
 */
export class LiveLink {
  constructor(handlers) {
    this.h = handlers;
    this.socket = null;
    this.connected = false;
    // The IK node's diagnostics have come through: it is up, and goals reach it.
    this.heardIkNode = false;
    this.reconnecting = false;
    this.readOnly = false;
    this.refused = null;
    this.delay = 500;
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/ws${TOKEN_QUERY}`);
    let opened = false;
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      this.connected = true;
      this.delay = 500;
      if (this.reconnecting || !this.h.hasErrors()) {
        // A standing error (say, standalone refused) stays until something replaces it.
        this.h.say(this.h.connectedText);
      }
      this.reconnecting = false;
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === 'hello') {
        this.readOnly = msg.goals === false;
        if (this.readOnly) {
          this.h.say('Live, read-only: this view shows the ROS graph and sends no goals.');
        }
      } else if (msg.type === 'error') {
        this.h.fail(`Live: ${msg.message}`);
      } else {
        if (msg.type === 'diagnostics') {
          this.heardIkNode = true;
        }
        this.h.onMessage(msg);
      }
    };
    socket.onclose = async (event) => {
      this.connected = false;
      if (!this.h.active() || this.socket !== socket) {
        return;
      }
      if (!opened) {
        const reason = await refusalReason();
        if (reason) {
          this.refused = reason;
          this.h.fail(refusedMessage(reason));
          return;
        }
      }
      this.reconnecting = true;
      const retry = `retrying in ${this.delay / 1000} s. The view shows the last known state.`;
      if (REFUSED_MESSAGE.includes(event.code)) {
        this.h.fail(`Live: the web node closed the connection (${event.reason || event.code}); ` +
                    retry);
      } else {
        this.h.fail(`Live: connection to the web node lost; ${retry}`);
      }
      setTimeout(() => this.h.active() && this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  close() {
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
      this.socket = null;
    }
    this.connected = false;
  }

  /**
   * Send a goal ({x, y[, z][, orientation: {qx, qy, qz, qw}]}); return whether it went.
   * A refused or read-only page says why instead.
   */
  sendGoal(goal) {
    if (this.refused) {
      this.h.fail(refusedMessage(this.refused));
      return false;
    }
    if (this.readOnly) {
      this.h.say('Live, read-only: this view sends no goals.', 'hint');
      return false;
    }
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      this.h.fail('Live: not connected; the goal was not sent.');
      return false;
    }
    const message = {type: 'goal', ...goal};
    if (TOKEN) {
      message.token = TOKEN;
    }
    this.socket.send(JSON.stringify(message));
    return true;
  }
}
