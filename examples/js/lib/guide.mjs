// The code of the Backups API guide (BosBase "Backups API - JavaScript SDK
// Documentation"), copied as written. Only what needs a browser is
// replaced, each time marked "browser:":
//
//   - confirm(...) is a parameter (a function, as window.confirm is);
//   - <a download>, window.open and <input type=file> become fetch plus a
//     file written to the "downloads" directory, and a File the caller picks;
//   - window.location.reload() is the reload callback.
//
// The guide's loose snippets and functions use a global `pb`: here they are
// returned by guide(pb, browser), closed over that pb. The classes are
// exported as they are.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// guide returns the guide's functions bound to the client pb. browser
// stands in for the page: downloadsDir is where downloads land, reload is
// called where the guide reloads the page.
export function guide(pb, browser = {}) {
  const { downloadsDir, reload = () => {} } = browser;

  // browser: what a download link or window.open saves to disk.
  async function saveDownload(blob, filename) {
    if (!downloadsDir) throw new Error('guide(pb, { downloadsDir }) is needed to download');
    const path = join(downloadsDir, filename);
    await writeFile(path, Buffer.from(await blob.arrayBuffer()));
    return path;
  }

  // List Backups › Basic Usage
  async function listBackups() {
    // Get all backups
    const backups = await pb.backups.getFullList();
    console.log(backups);
    return backups;
  }

  // List Backups › Working with Backup Lists
  async function workWithBackupList() {
    // Sort backups by modification date (newest first)
    const backups = await pb.backups.getFullList();
    backups.sort((a, b) => new Date(b.modified) - new Date(a.modified));

    // Find the most recent backup
    const mostRecent = backups[0];

    // Filter backups by size (larger than 100MB)
    const largeBackups = backups.filter(backup => backup.size > 100 * 1024 * 1024);

    // Get total storage used by backups
    const totalSize = backups.reduce((sum, backup) => sum + backup.size, 0);
    console.log(`Total backup storage: ${(totalSize / 1024 / 1024).toFixed(2)} MB`);

    return { backups, mostRecent, largeBackups, totalSize };
  }

  // Create Backup › Basic Usage
  async function createBackupBasicUsage(name) {
    // Create backup with custom name
    await pb.backups.create(name); // the guide: 'my_backup_2024.zip'

    // Create backup with auto-generated name (pass empty string or let backend generate)
    await pb.backups.create('');
  }

  // Create Backup › Examples
  // Create a named backup
  async function createNamedBackup(name) {
    try {
      await pb.backups.create(name);
      console.log(`Backup "${name}" creation initiated`);
    } catch (error) {
      if (error.status === 400) {
        console.error('Invalid backup name or backup already exists');
      } else {
        console.error('Failed to create backup:', error);
      }
    }
  }

  // Create backup with timestamp
  function createTimestampedBackup() {
    const timestamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const name = `backup_${timestamp}.zip`;
    return pb.backups.create(name);
  }

  // Upload Backup › Basic Usage
  // Upload from a File object
  // browser: `file` is fileInput.files[0], what the user picked.
  async function uploadFromFile(file) {
    if (file) {
      await pb.backups.upload({ file: file });
    }
  }

  // Upload from a Blob
  async function uploadFromBlob(data) {
    const blob = new Blob([data], { type: 'application/zip' }); // the guide: [/* your backup data */]
    await pb.backups.upload({ file: blob });
  }

  // Upload using FormData
  async function uploadFromFormData(file) {
    const formData = new FormData();
    formData.append('file', file);
    await pb.backups.upload(formData);
  }

  // Upload Backup › Examples
  // Upload backup from file input
  // browser: the <input type="file"> and its change event are replaced by
  // the file the user picks; the handler's body is the guide's.
  async function uploadBackupFromInput(file) {
    if (!file) return;

    try {
      await pb.backups.upload({ file: file });
      console.log('Backup uploaded successfully');
    } catch (error) {
      if (error.status === 400) {
        console.error('Invalid file or file already exists');
      } else {
        console.error('Upload failed:', error);
      }
    }
  }

  // Upload backup from fetch (e.g., downloading from another server)
  async function uploadBackupFromURL(url) {
    const response = await fetch(url);
    const blob = await response.blob();

    // Create a File object with the original filename
    const filename = url.split('/').pop() || 'backup.zip';
    const file = new File([blob], filename, { type: 'application/zip' });

    await pb.backups.upload({ file: file });
  }

  // Download Backup › Basic Usage
  async function downloadBackupBasicUsage(key) {
    // Get file token
    const token = await pb.files.getToken();

    // Build download URL
    const url = pb.backups.getDownloadURL(token, key); // the guide: 'pb_backup_20230519162514.zip'

    // Download the file
    // browser: link.href = url; link.download = key; link.click();
    const saved = await saveDownload(await (await fetch(url)).blob(), key);

    // Or use fetch for more control
    const response = await fetch(url);
    const blob = await response.blob();
    // Process the blob...
    return { url, saved, blob };
  }

  // Download Backup › Examples
  // Download backup function
  async function downloadBackup(backupKey) {
    try {
      // Get file token (valid for short period)
      const token = await pb.files.getToken();

      // Build download URL
      const url = pb.backups.getDownloadURL(token, backupKey);

      // Trigger download
      // browser: window.open(url, '_blank'), or an <a download> clicked:
      // the browser saves what the URL answers.
      const response = await fetch(url);
      await saveDownload(await response.blob(), backupKey);
    } catch (error) {
      console.error('Failed to download backup:', error);
    }
  }

  // Download and save backup with custom name
  async function downloadBackupAs(backupKey, saveAs) {
    const token = await pb.files.getToken();
    const url = pb.backups.getDownloadURL(token, backupKey);

    const response = await fetch(url);
    const blob = await response.blob();

    // browser: an <a download=saveAs> on URL.createObjectURL(blob), clicked.
    return saveDownload(blob, saveAs);
  }

  // Delete Backup › Examples
  // Delete backup with confirmation
  // browser: confirm is a parameter.
  async function deleteBackupWithConfirmation(backupKey, confirm) {
    if (confirm(`Are you sure you want to delete ${backupKey}?`)) {
      try {
        await pb.backups.delete(backupKey);
        console.log('Backup deleted successfully');
      } catch (error) {
        if (error.status === 400) {
          console.error('Backup is currently in use and cannot be deleted');
        } else if (error.status === 404) {
          console.error('Backup not found');
        } else {
          console.error('Failed to delete backup:', error);
        }
      }
    }
  }

  // Delete old backups (older than 30 days)
  async function deleteOldBackups() {
    const backups = await pb.backups.getFullList();
    const thirtyDaysAgo = new Date();
    thirtyDaysAgo.setDate(thirtyDaysAgo.getDate() - 30);

    const oldBackups = backups.filter(backup => {
      const modified = new Date(backup.modified);
      return modified < thirtyDaysAgo;
    });

    for (const backup of oldBackups) {
      try {
        await pb.backups.delete(backup.key);
        console.log(`Deleted old backup: ${backup.key}`);
      } catch (error) {
        console.error(`Failed to delete ${backup.key}:`, error);
      }
    }
  }

  // Restore Backup › Examples
  // Restore backup with confirmation
  // browser: confirm is a parameter; the page reload is browser.reload.
  async function restoreBackupWithConfirmation(backupKey, confirm) {
    const confirmed = confirm(
      `⚠️ WARNING: This will replace all current data with data from ${backupKey} and restart the application.\n\n` +
      `Are you absolutely sure you want to continue?`
    );

    if (!confirmed) return;

    try {
      await pb.backups.restore(backupKey);
      console.log('Restore initiated. Application will restart...');

      // Optionally wait and reload the page
      setTimeout(() => {
        reload(); // browser: window.location.reload();
      }, 2000);
    } catch (error) {
      if (error.status === 400) {
        if (error.message.includes('another backup/restore')) {
          console.error('Another backup or restore operation is in progress');
        } else {
          console.error('Invalid or missing backup file');
        }
      } else {
        console.error('Failed to restore backup:', error);
      }
    }
  }

  // Example 4: Backup Health Check
  async function checkBackupHealth() {
    const backups = await pb.backups.getFullList();

    if (backups.length === 0) {
      console.warn('⚠️ No backups found!');
      return false;
    }

    // Check for recent backup (within last 7 days)
    const sevenDaysAgo = new Date();
    sevenDaysAgo.setDate(sevenDaysAgo.getDate() - 7);

    const recentBackups = backups.filter(b => new Date(b.modified) > sevenDaysAgo);

    if (recentBackups.length === 0) {
      console.warn('⚠️ No backups found in the last 7 days');
    } else {
      console.log(`✓ Found ${recentBackups.length} recent backup(s)`);
    }

    // Check total storage
    const totalSize = backups.reduce((sum, b) => sum + b.size, 0);
    const totalSizeMB = (totalSize / 1024 / 1024).toFixed(2);
    console.log(`Total backup storage: ${totalSizeMB} MB`);

    // Check largest backup
    const largest = backups.reduce((max, b) => b.size > max.size ? b : max, backups[0]);
    console.log(`Largest backup: ${largest.key} (${(largest.size / 1024 / 1024).toFixed(2)} MB)`);

    return true;
  }

  // Error Handling
  // Handle common backup errors
  async function handleBackupError(operation, ...args) {
    try {
      await pb.backups[operation](...args);
    } catch (error) {
      switch (error.status) {
        case 400:
          if (error.message.includes('another backup/restore')) {
            console.error('Another backup or restore operation is in progress');
          } else if (error.message.includes('already exists')) {
            console.error('Backup with this name already exists');
          } else {
            console.error('Invalid request:', error.message);
          }
          break;
        case 401:
          console.error('Not authenticated');
          break;
        case 403:
          console.error('Not a superuser');
          break;
        case 404:
          console.error('Backup not found');
          break;
        default:
          console.error('Unexpected error:', error);
      }
      throw error;
    }
  }

  return {
    listBackups,
    workWithBackupList,
    createBackupBasicUsage,
    createNamedBackup,
    createTimestampedBackup,
    uploadFromFile,
    uploadFromBlob,
    uploadFromFormData,
    uploadBackupFromInput,
    uploadBackupFromURL,
    downloadBackupBasicUsage,
    downloadBackup,
    downloadBackupAs,
    deleteBackupWithConfirmation,
    deleteOldBackups,
    restoreBackupWithConfirmation,
    checkBackupHealth,
    handleBackupError,
  };
}

// Example 1: Backup Manager Class
export class BackupManager {
  constructor(pb) {
    this.pb = pb;
  }

  async list() {
    const backups = await this.pb.backups.getFullList();
    return backups.sort((a, b) => new Date(b.modified) - new Date(a.modified));
  }

  async create(name = null) {
    if (!name) {
      const timestamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      name = `backup_${timestamp}.zip`;
    }
    await this.pb.backups.create(name);
    return name;
  }

  async download(key) {
    const token = await this.pb.files.getToken();
    return this.pb.backups.getDownloadURL(token, key);
  }

  async delete(key) {
    await this.pb.backups.delete(key);
  }

  // browser: confirm is a parameter (window.confirm in a page).
  async restore(key, confirmMessage = null, confirm = globalThis.confirm) {
    if (confirmMessage && !confirm(confirmMessage)) {
      return false;
    }
    await this.pb.backups.restore(key);
    return true;
  }

  async cleanup(daysOld = 30) {
    const backups = await this.list();
    const cutoff = new Date();
    cutoff.setDate(cutoff.getDate() - daysOld);

    const toDelete = backups.filter(b => new Date(b.modified) < cutoff);

    for (const backup of toDelete) {
      try {
        await this.delete(backup.key);
        console.log(`Deleted: ${backup.key}`);
      } catch (error) {
        console.error(`Failed to delete ${backup.key}:`, error);
      }
    }

    return toDelete.length;
  }
}

// Example 2: Automated Backup Strategy
export class AutomatedBackup {
  constructor(pb, strategy = 'daily') {
    this.pb = pb;
    this.strategy = strategy; // 'daily', 'weekly', 'monthly'
    this.maxBackups = 7; // Keep last 7 backups
  }

  async createScheduledBackup() {
    try {
      const name = this.generateBackupName();
      await this.pb.backups.create(name);
      console.log(`Created backup: ${name}`);

      await this.cleanupOldBackups();
    } catch (error) {
      console.error('Backup creation failed:', error);
    }
  }

  generateBackupName() {
    const now = new Date();
    const dateStr = now.toISOString().split('T')[0]; // YYYY-MM-DD

    if (this.strategy === 'daily') {
      return `daily_${dateStr}.zip`;
    } else if (this.strategy === 'weekly') {
      const week = Math.ceil(now.getDate() / 7);
      return `weekly_${now.getFullYear()}_W${week}.zip`;
    } else {
      return `monthly_${now.getFullYear()}_${String(now.getMonth() + 1).padStart(2, '0')}.zip`;
    }
  }

  async cleanupOldBackups() {
    const backups = await this.pb.backups.getFullList();
    const sorted = backups.sort((a, b) => new Date(b.modified) - new Date(a.modified));

    if (sorted.length > this.maxBackups) {
      const toDelete = sorted.slice(this.maxBackups);
      for (const backup of toDelete) {
        try {
          await this.pb.backups.delete(backup.key);
          console.log(`Cleaned up old backup: ${backup.key}`);
        } catch (error) {
          console.error(`Failed to delete ${backup.key}:`, error);
        }
      }
    }
  }
}

// Example 3: Backup Migration Tool
export class BackupMigrator {
  constructor(sourcePb, targetPb) {
    this.sourcePb = sourcePb;
    this.targetPb = targetPb;
  }

  async migrateBackup(backupKey) {
    console.log(`Migrating backup: ${backupKey}`);

    // Step 1: Download from source
    console.log('Downloading from source...');
    const sourceToken = await this.sourcePb.files.getToken();
    const downloadUrl = this.sourcePb.backups.getDownloadURL(sourceToken, backupKey);

    const response = await fetch(downloadUrl);
    const blob = await response.blob();

    // Step 2: Create file object
    const file = new File([blob], backupKey, { type: 'application/zip' });

    // Step 3: Upload to target
    console.log('Uploading to target...');
    await this.targetPb.backups.upload({ file: file });

    console.log('Migration completed');
  }

  async migrateAllBackups() {
    const backups = await this.sourcePb.backups.getFullList();

    for (const backup of backups) {
      try {
        await this.migrateBackup(backup.key);
        console.log(`✓ Migrated: ${backup.key}`);
      } catch (error) {
        console.error(`✗ Failed to migrate ${backup.key}:`, error);
      }
    }
  }
}
